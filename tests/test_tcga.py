"""The TCGA pipeline end to end against a local HTTP server serving small files in the real raw formats:
a HiSeqV2 (genes x samples, with the '?' row and SLC35E2 twice) packed like Zenodo's gbm_classifier_data.tar.gz,
and a Snaptron samples.tsv (one row per sequenced aliquot)."""

import io
import logging
import os
import tarfile

import numpy as np
import pandas as pd
import pytest

import tybalt
from conftest import run_entry_point
from local_http_server import LocalFileServer
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.data import expression as data
from tybalt_core.data.tcga import (GENE_SELECTIONS, SCALINGS, TcgaOptions, apply_gene_scaling, clean_expression,
                                   fit_gene_scaling, prepare_tcga, read_gene_table)

N_TUMOURS, N_NORMALS, N_GENES = 70, 10, 300
ARCHIVE = "records/56735/files/gbm_classifier_data.tar.gz"
SAMPLES = "data/tcga/samples.tsv"


def make_hiseq(rng):
    """Genes x samples log2(RSEM+1) values as Xena ships them, samples in no particular order."""
    tumours = [f"TCGA-{site}-{number:04d}-01" for site, number in zip(["AB", "CD"] * 35, range(N_TUMOURS))]
    normals = [barcode[:-2] + "11" for barcode in tumours[:N_NORMALS]]
    barcodes = list(rng.permutation(tumours + normals))
    genes = [f"GENE{i:03d}" for i in range(N_GENES)]
    scales = rng.uniform(0.05, 2.0, N_GENES)
    scales[7] = 2.0  # GENE007, which has missing values, is among the selected genes
    values = rng.uniform(4, 10, (N_GENES, 1)) + scales[:, None] * rng.standard_normal((N_GENES, len(barcodes)))
    hiseq = pd.DataFrame(values.clip(0), index=genes, columns=barcodes)
    # planted rows: unreliable genes with a huge spread, which must be dropped all the same
    for name in ("?", "SLC35E2", "SLC35E2"):
        hiseq = pd.concat([hiseq, pd.DataFrame([rng.uniform(0, 20, len(barcodes))], index=[name], columns=barcodes)])
    # a few missing values; mean vs median deviation disagree on OUTLIER and STEADY
    hiseq.loc["GENE007", barcodes[:3]] = np.nan
    outlier = np.full(len(barcodes), 5.0)
    outlier[:4] = 15.0
    hiseq.loc["OUTLIER"] = outlier
    hiseq.loc["STEADY"] = 8 + 0.8 * np.resize([1, -1], len(barcodes))
    hiseq.index.name = "sample"
    return hiseq


def make_samples_table(barcodes):
    """Snaptron-style samples.tsv: several hundred columns in reality, a representative subset here."""
    rows = []
    for rail_id, barcode in enumerate(sorted(barcodes)):
        if barcode == sorted(barcodes)[5]:
            continue  # an expression sample without clinical data
        normal = barcode.endswith("-11")
        aliquots = 2 if barcode == sorted(barcodes)[0] else 1
        for aliquot in range(aliquots):
            rows.append({
                "rail_id": rail_id * 10 + aliquot, "gdc_file_id": f"file-{rail_id}-{aliquot}",
                "gdc_cases.samples.submitter_id": barcode + "A", "gdc_cases.submitter_id": barcode[:12],
                "gdc_platform": "Illumina HiSeq", "gdc_center.short_name": "UNC", "gdc_state": "live",
                "gdc_cases.demographic.gender": ["female", "male"][(rail_id + aliquot) % 2],
                "gdc_cases.demographic.race": "white", "gdc_cases.demographic.ethnicity": "not hispanic or latino",
                "gdc_cases.project.primary_site": "Breast" if "-AB-" in barcode else "Kidney",
                "gdc_cases.project.project_id": "TCGA-BRCA" if "-AB-" in barcode else "TCGA-KIRC",
                "gdc_cases.tissue_source_site.project": "Breast invasive carcinoma",
                "gdc_cases.diagnoses.vital_status": "alive",
                "gdc_cases.samples.sample_type": "Solid Tissue Normal" if normal else "Primary Tumor",
                "cgc_case_age_at_diagnosis": 40 + rail_id % 30, "cgc_portion_id": f"{barcode}A-11",
                "cgc_slide_percent_tumor_nuclei": 80, "cgc_drug_therapy_drug_name": "",
                "xml_year_of_initial_pathologic_diagnosis": 2005, "xml_stage_event_pathologic_stage": "Stage II",
            })
    rows.append({**rows[-1], "rail_id": 9999, "gdc_cases.samples.submitter_id": "TCGA-ZZ-9999-01A"})
    return pd.DataFrame(rows)


def tar_gz(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folder = tarfile.TarInfo("gbm_download")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, content in files.items():
            info = tarfile.TarInfo(f"gbm_download/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def raw():
    """The raw frames (for independent expectations) and a server serving them as files."""
    hiseq = make_hiseq(np.random.default_rng(7))
    samples = make_samples_table(hiseq.columns)
    mutation = "#sample\tchr\tstart\tend\treference\talt\tgene\teffect\n" \
               f"{hiseq.columns[0]}\t17\t7577120\t7577120\tC\tT\tTP53\tMissense_Mutation\n"
    with LocalFileServer() as server:
        server.files.update(raw_tcga_files(hiseq, samples, {"PANCAN_mutation": mutation.encode()}))
        yield {"hiseq": hiseq, "samples": samples, "server": server}


def raw_tcga_files(hiseq, samples, extra_members: dict | None = None) -> dict:
    """Server path -> bytes: the Zenodo archive holding ``hiseq`` (and ``extra_members``) and Snaptron's table."""
    expression = hiseq.to_csv(sep="\t", float_format="%.4f", na_rep="NA").encode()
    return {ARCHIVE: tar_gz({"HiSeqV2": expression, **(extra_members or {})}),
            SAMPLES: samples.to_csv(sep="\t", index=False).encode()}


def options(raw, **changes):
    settings = {"data_url": raw["server"].url(ARCHIVE), "clinical_url": raw["server"].url(SAMPLES),
                "num_genes": 50, "progress": False, **changes}
    return TcgaOptions(**settings)


def expected_clean(hiseq):
    """The original cleaning, written independently: drop '?' and SLC35E2, NaN -> 0, samples x genes, sorted."""
    rounded = hiseq.round(4)
    return rounded.drop(index=["?", "SLC35E2"]).fillna(0).T.sort_index()


def test_pipeline_writes_the_expected_matrix_gene_order_and_aligned_clinical_table(raw, tmp_path):
    dataset = data.load_dataset("tcga", str(tmp_path), tcga_options=options(raw))
    clean = expected_clean(raw["hiseq"])
    mean_deviation = (clean - clean.mean()).abs().mean()
    expected_genes = mean_deviation.sort_values(ascending=False, kind="stable").index[:50].tolist()

    assert dataset.values.shape == (N_TUMOURS + N_NORMALS, 50)
    assert dataset.sample_ids == sorted(raw["hiseq"].columns)
    assert dataset.genes == expected_genes
    assert "?" not in dataset.genes and "SLC35E2" not in dataset.genes
    missing_in = [dataset.sample_ids.index(s) for s in raw["hiseq"].columns[:3]]
    assert (dataset.values[missing_in, dataset.genes.index("GENE007")] == 0).all()  # NaN -> 0, the gene minimum
    np.testing.assert_allclose(dataset.values.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(dataset.values.max(axis=0), 1, atol=1e-6)
    subset = clean[expected_genes]
    np.testing.assert_allclose(dataset.values, (subset - subset.min()) / (subset.max() - subset.min()), atol=1e-5)

    clinical = dataset.clinical
    assert clinical.index.tolist() == dataset.sample_ids
    assert {"gender", "race", "organ", "acronym", "disease", "vital_status", "sample_type",
            "age_at_diagnosis"} <= set(clinical.columns)
    normal = next(s for s in dataset.sample_ids if s.endswith("-11"))
    assert clinical.loc[normal, "sample_type"] == "Solid Tissue Normal"
    assert set(clinical["acronym"].dropna()) == {"BRCA", "KIRC"}
    assert clinical.loc[dataset.sample_ids[5]].isna().all()  # no clinical row for this sample
    assert clinical.loc[dataset.sample_ids[0], "gender"] == "female"  # first of its two aliquot rows
    assert "TCGA-ZZ-9999-01" not in clinical.index


def test_gene_table_holds_the_genes_in_order_with_their_scaling(raw, tmp_path):
    files = prepare_tcga(str(tmp_path), options(raw))
    genes = read_gene_table(files.genes)
    processed = pd.read_csv(files.expression, sep="\t", index_col=0)
    clean = expected_clean(raw["hiseq"])
    assert genes["gene"].tolist() == processed.columns.tolist()
    np.testing.assert_allclose(genes["min"], clean[genes["gene"]].min())
    np.testing.assert_allclose(genes["max"], clean[genes["gene"]].max())
    assert genes["deviation"].is_monotonic_decreasing


def test_second_run_downloads_nothing_and_parses_nothing(raw, tmp_path, caplog):
    server = raw["server"]
    data.load_dataset("tcga", str(tmp_path), tcga_options=options(raw))
    requests_before = len(server.requests)
    files = prepare_tcga(str(tmp_path), options(raw))
    stamps = {path: os.stat(path).st_mtime_ns for path in (files.expression, files.genes, files.clinical)}

    with caplog.at_level(logging.INFO):
        dataset = data.load_dataset("tcga", str(tmp_path), tcga_options=options(raw))
    assert len(server.requests) == requests_before
    assert "cache hit: processed TCGA files" in caplog.text
    assert "from its binary cache" in caplog.text
    assert {path: os.stat(path).st_mtime_ns for path in stamps} == stamps
    assert dataset.values.shape == (N_TUMOURS + N_NORMALS, 50)


def test_new_preprocessing_settings_reuse_the_downloads(raw, tmp_path, caplog):
    server = raw["server"]
    prepare_tcga(str(tmp_path), options(raw))
    requests_before = len(server.requests)
    with caplog.at_level(logging.INFO):
        dataset = data.load_dataset("tcga", str(tmp_path), tcga_options=options(raw, num_genes=20))
    assert dataset.values.shape == (N_TUMOURS + N_NORMALS, 20)
    assert len(server.requests) == requests_before
    assert caplog.text.count("cache hit: ") == 2 and "not downloading" in caplog.text


def test_mean_and_median_absolute_deviation_rank_genes_differently(raw, tmp_path):
    expression = clean_expression(raw["hiseq"], "HiSeqV2")

    def rank(gene_selection):
        genes = fit_gene_scaling(expression, expression.shape[1], gene_selection, "minmax")["gene"].tolist()
        return genes.index("OUTLIER"), genes.index("STEADY")

    outlier, steady = rank("mean_absolute_deviation")
    assert outlier < steady  # a few extreme samples raise the mean deviation
    outlier, steady = rank("median_absolute_deviation")
    assert steady < outlier  # ... but not the median deviation, which is 0 for OUTLIER


def test_zscore_scaling_writes_the_standardized_file_that_bce_refuses(raw, tmp_path):
    files = prepare_tcga(str(tmp_path), options(raw, scaling="zscore"))
    assert os.path.basename(files.expression) == "pancan_scaled_rnaseq.tsv"
    assert {"mean", "std"} <= set(read_gene_table(files.genes).columns)
    with pytest.raises(TybaltInputError, match="--loss mse"):
        data.load_dataset("tcga", str(tmp_path), tcga_options=options(raw, scaling="zscore"))
    dataset = data.load_dataset("tcga", str(tmp_path), tcga_options=options(raw, scaling="zscore"),
                                require_unit_range=False)
    np.testing.assert_allclose(dataset.values.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(dataset.values.std(axis=0), 1, atol=1e-4)


def test_new_samples_are_put_on_the_scale_of_the_processed_data(raw, tmp_path):
    files = prepare_tcga(str(tmp_path), options(raw))
    processed = pd.read_csv(files.expression, sep="\t", index_col=0)
    new = expected_clean(raw["hiseq"]).iloc[:5]
    new = new[list(reversed(new.columns))].assign(EXTRA_GENE=1.0)  # other column order, an unused gene
    scaled = apply_gene_scaling(new, read_gene_table(files.genes))
    assert scaled.columns.tolist() == processed.columns.tolist()
    np.testing.assert_allclose(scaled, processed.loc[new.index], atol=1e-5)

    missing = processed.columns[3]
    with pytest.raises(TybaltInputError, match=f"lack 1 of the 50 genes.*{missing}"):
        apply_gene_scaling(new.drop(columns=missing), read_gene_table(files.genes))


def test_archive_checksum_mismatch_stops_the_pipeline_with_the_parameter_named(raw, tmp_path):
    with pytest.raises(TybaltInputError, match="gbm_classifier_data.tar.gz.*expected sha256 1{64}.*data_sha256"):
        prepare_tcga(str(tmp_path), options(raw, data_sha256="1" * 64))
    assert not os.path.exists(tmp_path / "tcga" / "pancan_scaled_zeroone_rnaseq.tsv")


def test_more_genes_than_the_data_have_is_refused(raw, tmp_path):
    with pytest.raises(TybaltInputError, match="lower num_genes"):
        prepare_tcga(str(tmp_path), options(raw, num_genes=10_000))


def test_benchmark_choices_match_the_pipeline():
    definitions = {d["name"]: d for d in tybalt.additional_definitions}
    assert tuple(definitions["gene_selection"]["choices"]) == GENE_SELECTIONS
    assert set(SCALINGS) <= set(definitions["scaling"]["choices"])  # plus 'none' and 'auto' for a user's TSV
    defaults = {d["name"]: d["default"] for d in tybalt.additional_definitions}
    assert defaults["scaling"] == "auto" and TcgaOptions.from_params(defaults).scaling == "minmax"


def test_preprocess_only_command_prints_the_files_and_trains_nothing(raw, tmp_path):
    flags = ["--data_source", "tcga", "--preprocess_only", "true", "--data_dir", str(tmp_path / "data"),
             "--data_url", raw["server"].url(ARCHIVE), "--clinical_url", raw["server"].url(SAMPLES),
             "--num_genes", "40", "--verbose", "false"]
    result = run_entry_point(*flags, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    expression = tmp_path / "data" / "tcga" / "pancan_scaled_zeroone_rnaseq.tsv"
    assert str(expression) in result.stdout and str(tmp_path / "data" / "tcga" / "clinical_data.tsv") in result.stdout
    assert pd.read_csv(expression, sep="\t", index_col=0).shape == (N_TUMOURS + N_NORMALS, 40)
    assert not (tmp_path / "Output").exists()

    again = run_entry_point(*flags, cwd=str(tmp_path))
    assert again.returncode == 0 and "cache hit: processed TCGA files" in again.stderr


def test_preprocess_only_with_another_data_source_is_a_one_line_error(tmp_path):
    result = run_entry_point("--preprocess_only", "true", "--data_dir", str(tmp_path), cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("tybalt: error: preprocess_only applies to --data_source tcga")


def test_training_run_on_tcga_prepares_the_data_then_trains_on_it(raw, tmp_path):
    result = run_entry_point(
        "--data_source", "tcga", "--data_dir", str(tmp_path / "data"), "--data_url", raw["server"].url(ARCHIVE),
        "--clinical_url", raw["server"].url(SAMPLES), "--num_genes", "40", "--latent_dim", "4", "--epochs", "1",
        "--batch_size", "20", "--verbose", "false", "--save_model", "false", "--output_dir", str(tmp_path / "out"),
        cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    encodings = pd.read_csv(tmp_path / "out" / "encoded_features.tsv", sep="\t", index_col=0)
    assert encodings.index.tolist() == sorted(raw["hiseq"].columns) and encodings.shape[1] == 4


def test_cleaning_drops_every_repeated_symbol_and_refuses_repeated_samples():
    raw = pd.DataFrame([[1.0, 2.0], [3.0, 4.0], [5.0, np.nan], [7.0, 8.0], [9.0, 9.5]],
                       index=["ABC|123", "ABC|456", "XYZ|789", "?|1", "?|2"],
                       columns=["TCGA-AB-0002-01", "TCGA-AB-0001-01"])
    clean = clean_expression(raw, "HiSeqV2")
    assert clean.columns.tolist() == ["XYZ"]
    assert clean.index.tolist() == ["TCGA-AB-0001-01", "TCGA-AB-0002-01"]
    assert clean["XYZ"].tolist() == [0.0, 5.0]

    raw.columns = ["TCGA-AB-0001-01A", "TCGA-AB-0001-01B"]
    with pytest.raises(TybaltInputError, match="duplicated sample barcodes \\(TCGA-AB-0001-01\\)"):
        clean_expression(raw, "HiSeqV2")


def test_trials_started_together_prepare_the_tcga_folder_once_and_all_get_the_same_files(raw, tmp_path):
    import subprocess
    import sys

    from conftest import ENTRY_POINT

    flags = ["--data_source", "tcga", "--preprocess_only", "true", "--data_dir", str(tmp_path / "data"),
             "--data_url", raw["server"].url(ARCHIVE), "--clinical_url", raw["server"].url(SAMPLES),
             "--num_genes", "40", "--verbose", "false"]
    trials = [subprocess.Popen([sys.executable, ENTRY_POINT, *flags], cwd=str(tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [trial.communicate(timeout=300) for trial in trials]
    assert all(trial.returncode == 0 for trial in trials), [err[-2000:] for _, err in outputs]
    logs = "".join(err for _, err in outputs)
    assert logs.count("preprocessing ") == 1 and logs.count("extracting ") == 1
    assert logs.count("cache hit: processed TCGA files") == 3
    assert len({out for out, _ in outputs}) == 1
    assert not [name for name in os.listdir(tmp_path / "data" / "tcga") if name.endswith(".lock")]
