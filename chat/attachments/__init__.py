"""Files in chats: checked and stored on upload (services), served by signed links (views)."""
