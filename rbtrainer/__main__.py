from rbtrainer.cli import main

raise SystemExit(main())
