"""CANDLE Supervisor tools: the local UPF runner, the workflow-file writer and the latent-size sweep."""
