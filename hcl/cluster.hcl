# The clustered compose deployment (docker-compose.cluster.yml): no single point
# of failure on one Docker host. Three RabbitMQ nodes in one cluster, a
# ZooKeeper ensemble of three, two orchestrators (both serve the DB and admin
# APIs, one supervises the workers), users, rides, the gateway; the workers as
# containers of the rideshare image on the project's network, each with its own
# PostgreSQL database. docker-compose.cluster.yml sets project and
# orchestrator_id per container; everything else is here.
#
#   make images && docker-compose -f docker-compose.cluster.yml up -d

variable "project" {
  # The compose project: names the network the workers join (<project>_net),
  # the volume they mount (<project>_workers) and their rideshare.stack label.
  default = "rideshare"
}

variable "orchestrator_id" {
  # Each orchestrator's own id (orchestrator1, orchestrator2): its replies
  # come on responseQ.<id>, so both use one vhost. Only the orchestrators read it.
  default = "orchestrator1"
}

variable "image" {
  default = "rideshare:latest"
}

variable "scale_interval" {
  default = "2m"
}

variable "slaves" {
  default = 1
}

variable "pg_url" {
  default = "postgres://rideshare:rideshare@postgres:5432/postgres?sslmode=disable"
}

variable "users_url" {
  default = "http://gateway:8080"
}

variable "admin_token" {
  default = ""
}

variable "db_token" {
  default = ""
}

# Every node of the RabbitMQ cluster, tried in turn; a client whose node goes
# away reconnects to the next. The images' user and password: rideshare/rideshare.
amqp_url = "amqp://rideshare:rideshare@rabbitmq1:5672/,amqp://rideshare:rideshare@rabbitmq2:5672/,amqp://rideshare:rideshare@rabbitmq3:5672/"
# writeQ and readQ as quorum queues: Raft-replicated on the three nodes, they
# live through the loss of one. syncQ is a stream, replicated on all three.
amqp_queue_type = "quorum"
data_dir        = "/var/lib/rideshare"
plugin_dir      = "/var/lib/rideshare/plugins"
stack           = var.project

zookeeper {
  servers = ["zookeeper1:2181", "zookeeper2:2181", "zookeeper3:2181"]
  root    = "/rideshare"
  # Meant to be longer than the ensemble takes to elect a new leader, so a
  # client whose server dies or is demoted reconnects to another and keeps its
  # session: 0.5-0.75 s on an idle host, but up to 17 s measured on a loaded
  # one (docs/deploy.md, "Cluster test results"). A killed worker is still
  # seen at once, by its container's exit.
  session_timeout = "4s"
}

runtime "docker" {
  config = {
    image       = var.image
    network     = "${var.project}_net"
    data_volume = "${var.project}_workers"
  }
}

storage "postgres" {
  config = {
    url = var.pg_url
  }
}

election "zookeeper" {}

orchestrator {
  # The orchestrators' own sessions are shorter than the workers': losing one
  # only hands supervision to the other orchestrator, while a master losing
  # its session stops taking writes. So a killed supervisor is succeeded
  # 2 s after its death, not 4 s.
  id              = var.orchestrator_id
  listen          = "0.0.0.0:8083"
  session_timeout = "2s"
  slaves          = var.slaves
  rpc_timeout     = "10s"
  admin_token     = var.admin_token
  db_token        = var.db_token
}

worker {
  min_seq_wait = "3s"
}

snapshot {
  entries  = 20000
  interval = "1m"
}

sync_log {
  max_bytes     = "512MiB"
  segment_bytes = "32MiB"
}

scaling {
  interval        = var.scale_interval
  reads_per_slave = 20
  min_slaves      = 1
  max_slaves      = 8
}

# users and rides reach the orchestrators at http://orchestrator:8083
# (RIDESHARE_ORCHESTRATOR in docker-compose.cluster.yml): a name both
# orchestrators carry, which resolves to whichever of them runs.
service "users" {
  listen = "0.0.0.0:8081"
}

service "rides" {
  listen     = "0.0.0.0:8082"
  users_url  = var.users_url
  area_min   = 1
  area_max   = 198
  area_names = ""
}

gateway {
  listen = "0.0.0.0:8080"

  route {
    path   = "/api/v1/users"
    target = "http://users:8081"
  }

  route {
    path   = "/"
    target = "http://rides:8082"
  }
}
