# Export Bioconductor's bladderbatch data set (Dyrskjot et al. 2004, as packaged for ComBat/sva: 57 bladder samples x
# 22,283 probes, RMA log2 expression, processed in 5 batches) as the two TSV files Tybalt reads: samples x genes,
# and a phenotype table (cancer: Normal/Biopsy/Cancer; outcome: the finer diagnosis; batch: b1..b5, text so that it
# is read as groups). Usage: Rscript export_bladderbatch.R OUTPUT_FOLDER   (needs the Debian package
# r-bioc-bladderbatch)
arguments <- commandArgs(trailingOnly = TRUE)
if (length(arguments) != 1) stop("usage: Rscript export_bladderbatch.R OUTPUT_FOLDER")
folder <- arguments[1]
dir.create(folder, showWarnings = FALSE, recursive = TRUE)
suppressPackageStartupMessages(library(bladderbatch))
data(bladderdata)
expression <- t(Biobase::exprs(bladderEset))  # samples x probes
phenotype <- Biobase::pData(bladderEset)
ids <- sub("\\.CEL$", "", rownames(expression))
clinical <- data.frame(sample_id = ids, cancer = as.character(phenotype$cancer),
                       outcome = as.character(phenotype$outcome), batch = paste0("b", phenotype$batch))
write.table(data.frame(sample_id = ids, expression, check.names = FALSE),
            file.path(folder, "bladder_expression.tsv"), sep = "\t", quote = FALSE, row.names = FALSE, na = "")
write.table(clinical, file.path(folder, "bladder_phenotype.tsv"), sep = "\t", quote = FALSE, row.names = FALSE,
            na = "")
