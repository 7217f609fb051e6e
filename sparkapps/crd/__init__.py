"""The SparkApplication CRD schema shipped with sparkeo (package data)."""
