from igctl.cli import main

main()
