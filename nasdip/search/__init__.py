"""Architecture search: candidate evaluation, the resumable run directory and the search driver."""
