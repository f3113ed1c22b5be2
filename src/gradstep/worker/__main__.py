from gradstep.worker.child import main

raise SystemExit(main())
