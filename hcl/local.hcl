# The embedded default deployment: everything on this machine, workers as raw
# processes, each worker with its own SQLite file under data_dir.
#
#   rideshare up -config hcl/local.hcl -var data_dir=/tmp/rs -var scale_interval=10s

variable "amqp_url" {
  default = "amqp://guest:guest@127.0.0.1:5672/"
}

variable "amqp_queue_type" {
  # classic (the fastest on one broker) or quorum (what a RabbitMQ cluster
  # needs): the type of writeQ, readQ and responseQ.
  default = "classic"
}

variable "zk_servers" {
  default = ["127.0.0.1:2181"]
}

variable "zk_root" {
  default = "/rideshare"
}

variable "data_dir" {
  default = "./data"
}

variable "scale_interval" {
  default = "2m"
}

variable "stack" {
  # Names this deployment's queues' owner in logs and labels; two stacks on one
  # broker need different zk_root values.
  default = "local"
}

variable "admin_token" {
  # The bearer token the orchestrator's admin API (crash, switchover, worker
  # list, workers, events, status) requires; "" leaves it open. The CLI sends
  # RIDESHARE_TOKEN.
  default = ""
}

variable "rides_origin" {
  # The Origin header rides sends on its check of a user through the load
  # balancer: the rides instance's public IP or DNS name, which the original
  # test script checks (on AWS: -var rides_origin=http://<public DNS name>,
  # docs/deploy.md). "" means http://<the rides listen address>.
  default = ""
}

variable "db_token" {
  # The bearer token the DB API (/api/v1/db/*) requires, which users and rides
  # send; "" leaves it open.
  default = ""
}

amqp_url        = var.amqp_url
amqp_queue_type = var.amqp_queue_type
data_dir   = var.data_dir
plugin_dir = "${var.data_dir}/plugins"
stack      = var.stack

zookeeper {
  servers         = var.zk_servers
  root            = var.zk_root
  session_timeout = "2s"
}

runtime "process" {}

storage "sqlite" {}

election "zookeeper" {}

orchestrator {
  listen      = "127.0.0.1:8083"
  rpc_timeout = "10s"
  admin_token = var.admin_token
  db_token    = var.db_token
}

worker {
  # How long a replica waits to reach a read's min_seq before answering 503.
  min_seq_wait = "3s"
}

snapshot {
  # The oldest ready slave snapshots its database when this many writes were
  # applied since the newest snapshot, or this long passed with any write, or
  # a quarter of sync_log.max_bytes was written to the log. New, replaced and
  # scaled-out workers start from the newest snapshot and the log after it.
  entries  = 20000
  interval = "1m"
}

sync_log {
  # The replication log's retention (a RabbitMQ stream): it is dropped a
  # segment at a time once over max_bytes (or older than max_age, if set).
  max_bytes     = "512MiB"
  segment_bytes = "32MiB"
}

scaling {
  interval        = var.scale_interval
  reads_per_slave = 20
  min_slaves      = 1
  max_slaves      = 8
}

service "users" {
  listen = "127.0.0.1:8081"
}

service "rides" {
  listen = "127.0.0.1:8082"
  # Rides checks that a user exists through the load balancer, as in AWS.
  users_url = "http://127.0.0.1:8080"
  area_min  = 1
  area_max  = 198
  # Optional CSV of area names (Area_No,Area_Name); ids are validated by range.
  area_names = ""
  origin     = var.rides_origin
}

gateway {
  listen = "127.0.0.1:8080"

  route {
    path   = "/api/v1/users"
    target = "http://127.0.0.1:8081"
  }

  route {
    path   = "/"
    target = "http://127.0.0.1:8082"
  }
}
