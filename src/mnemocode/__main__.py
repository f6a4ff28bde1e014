from mnemocode.cli.entry import main

main()
