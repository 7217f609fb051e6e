"""What happened: the ZooKeeper job registry and the CronJob pass that syncs it with the cluster."""
