"""lawpay connector (see its issue); the folder fixes its place in the layout."""
