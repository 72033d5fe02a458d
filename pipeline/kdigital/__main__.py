from kdigital.cli import main

main()
