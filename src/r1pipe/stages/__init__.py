"""One module per command. Each ``run`` only wires data, models and trainers together."""
