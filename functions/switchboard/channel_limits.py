"""What each channel can carry, for the code that writes to it and the code that checks."""

# X counts characters its own way (URLs as 23, some scripts as 2); 280 is the plain limit.
X_POST_MAX_LENGTH = 280
