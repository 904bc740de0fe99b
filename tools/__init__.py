"""Development scripts (generators of committed data files); not shipped."""
