"""CANDLE Supervisor tools: the local UPF runner and the workflow-file writer."""
