"""The applicant's pages: my applications and the open calls."""
