# Export Bioconductor's ALL data set (Chiaretti et al. 2004: 128 acute lymphoblastic leukaemia patients x 12,625
# probes, RMA log2 expression) as the two TSV files Tybalt reads: samples x genes, and a phenotype table.
# Usage: Rscript export_all.R OUTPUT_FOLDER   (needs the Debian package r-bioc-all)
arguments <- commandArgs(trailingOnly = TRUE)
if (length(arguments) != 1) stop("usage: Rscript export_all.R OUTPUT_FOLDER")
folder <- arguments[1]
dir.create(folder, showWarnings = FALSE, recursive = TRUE)
suppressPackageStartupMessages(library(ALL))
data(ALL)
expression <- t(Biobase::exprs(ALL))  # samples x probes
phenotype <- Biobase::pData(ALL)
samples <- rownames(expression)
# Ids such as 01005 would be read back as the number 1005 by table readers: prefix them so they stay text.
ids <- paste0("ALL-", samples)
lineage <- substr(as.character(phenotype[samples, "BT"]), 1, 1)  # B1..B4 -> B, T1..T4 -> T
clinical <- data.frame(sample_id = ids, sex = as.character(phenotype[samples, "sex"]),
                       BT = as.character(phenotype[samples, "BT"]), lineage = lineage)
write.table(data.frame(sample_id = ids, expression, check.names = FALSE),
            file.path(folder, "all_expression.tsv"), sep = "\t", quote = FALSE, row.names = FALSE, na = "")
write.table(clinical, file.path(folder, "all_phenotype.tsv"), sep = "\t", quote = FALSE, row.names = FALSE,
            na = "")
