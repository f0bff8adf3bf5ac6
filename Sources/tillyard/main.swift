print("tillyard")
