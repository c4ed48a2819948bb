"""Alert rules: thresholds held for a duration over signals from the request log, fired and resolved once."""
