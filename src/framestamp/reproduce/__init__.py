"""`framestamp reproduce`: the plan of experiments, running them, the report, shipping."""
