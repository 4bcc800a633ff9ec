"""`wartemarke-archive`: the city's daily open-data files (one CSV per business day, all offices)."""
