# tybalt_bayesian: Ranges over the Tybalt study grid for Bayesian search (mlrMBO or KerasTuner)
# Generated from tybalt_bayesian.yaml by Tybalt/workflow_files.py; edit the YAML, not this file.
param.set <- makeParamSet(
  makeDiscreteParam("model_type", values = c("vae")),
  makeDiscreteParam("depth", values = c(0, 1)),
  makeIntegerParam("hidden_dim", lower = 0, upper = 4, trafo = function(x) 100L + 50L * x),
  makeNumericParam("kappa", lower = -2.0, upper = 0.0, trafo = function(x) 10^x),
  makeIntegerParam("batch_size", lower = 50, upper = 200),
  makeIntegerParam("epochs", lower = 0, upper = 9, trafo = function(x) 10L + 10L * x),
  makeNumericParam("learning_rate", lower = -3.3010299956639813, upper = -2.6020599913279625, trafo = function(x) 10^x)
)
