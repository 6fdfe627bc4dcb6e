"""What carecall does with calls: place and end them, follow their status, record them."""
