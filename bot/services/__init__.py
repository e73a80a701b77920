"""Business rules. Never imports telegram; takes collaborators and `now` as arguments."""
