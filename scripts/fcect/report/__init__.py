"""Summary JSON and methods text built from the results and the validated config."""
