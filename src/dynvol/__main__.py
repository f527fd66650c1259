from dynvol.cli.main import main

main()
