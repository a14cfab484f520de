"""Load and test tools: ivrctl load, the test call and its transcript, the test range."""
