# tybalt_bayesian: Ranges over the Tybalt study grid for Bayesian search (mlrMBO or KerasTuner)
# Generated from tybalt_bayesian.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
# hidden_dim is active only when depth is 1; mlrMBO proposes it in every trial and the benchmark ignores it elsewhere.
param.set <- makeParamSet(
  makeDiscreteParam("model_type", values = c("vae")),
  makeDiscreteParam("data_source", values = c("tcga")),
  makeDiscreteParam("ckpt_save_interval", values = c(0)),
  makeDiscreteParam("ckpt_save_minutes", values = c(10.0)),
  makeDiscreteParam("lean_outputs", values = c("True")),
  makeDiscreteParam("save_model", values = c("False")),
  makeDiscreteParam("depth", values = c(0, 1)),
  makeIntegerParam("hidden_dim", lower = 1, upper = 5, trafo = function(x) 100L + 50L * (x - 1L)),
  makeNumericParam("log10_kappa", lower = -2.0, upper = 0.0),
  makeIntegerParam("batch_size", lower = 50, upper = 200),
  makeIntegerParam("epochs", lower = 1, upper = 10, trafo = function(x) 10L + 10L * (x - 1L)),
  makeNumericParam("log10_learning_rate", lower = -3.3010299956639813, upper = -2.6020599913279625)
)
