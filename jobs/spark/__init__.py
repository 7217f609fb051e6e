"""The Spark runtime behind one seam, ``execute(plan, sink)``: session, tasks, tile transport, worker daemon."""
