"""Expression data: synthetic, toy, TCGA (download, preprocessing) and user files, loading, caching, labels."""
