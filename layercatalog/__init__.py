"""What data exists: collections, bands, item search, access groups and sample data.

Imports no other domain package (DESIGN.md).
"""
