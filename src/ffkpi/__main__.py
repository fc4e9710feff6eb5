from ffkpi.cli import main

main()
