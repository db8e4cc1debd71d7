"""The served studio's surface: who may reach it, the login gate, the folders it may touch."""
