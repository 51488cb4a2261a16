from autodialer.cli import main

raise SystemExit(main())
