"""The contracts between venue packages and services: the normalized vocabulary and the
adapter protocols. Venue packages implement them; services import nothing else of a venue."""
