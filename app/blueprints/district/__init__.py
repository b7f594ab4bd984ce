"""The district administrator's pages: the district's entries and its quotas."""
