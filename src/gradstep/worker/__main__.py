from gradstep.worker.child import run

run()
