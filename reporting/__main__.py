from reporting.cli import main

main()
