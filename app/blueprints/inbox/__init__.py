"""Every user's inbox: notifications, marking them read, and which ones come by e-mail."""
