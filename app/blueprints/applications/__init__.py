"""Application pages shared by every role: detail, editing, transitions, downloads."""
