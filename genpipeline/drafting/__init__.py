"""Course drafting: outline from the SOPs' structure, cited lessons, grounding, CEFR levelling."""
