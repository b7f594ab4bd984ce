"""The expert's pages: the review queue and the score sheet."""
