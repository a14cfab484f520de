"""Settings, secret files and names: read by every room, they import no room."""
