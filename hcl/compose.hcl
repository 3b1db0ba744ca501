# The compose deployment (docker-compose.yml): every part in a container on the
# project's own network, reaching the others by their service names; workers
# as containers of the rideshare image on that same network, each with its own
# PostgreSQL database. docker-compose.yml sets project (from
# COMPOSE_PROJECT_NAME); everything else is here.
#
#   make images && docker-compose up -d

variable "project" {
  # The compose project. It names the network the workers join
  # (<project>_net), the volume they mount (<project>_workers) and their
  # rideshare.stack label, so two projects on one engine stay apart.
  default = "rideshare"
}

variable "image" {
  default = "rideshare:latest"
}

variable "scale_interval" {
  default = "2m"
}

variable "slaves" {
  # Slaves started at the beginning; the scaler keeps at least min_slaves.
  default = 1
}

variable "pg_url" {
  # Where each worker creates (and, when removed for good, drops) its own
  # database; the role needs CREATEDB. On AWS, may be an RDS instance.
  default = "postgres://rideshare:rideshare@postgres:5432/postgres?sslmode=disable"
}

variable "users_url" {
  # What rides calls to check that a user exists: the load balancer (on AWS,
  # the ALB's address).
  default = "http://gateway:8080"
}

variable "admin_token" {
  # The bearer token of the orchestrator's admin API; "" leaves it open.
  default = ""
}

variable "db_token" {
  # The bearer token of the DB API (/api/v1/db/*); "" leaves it open.
  default = ""
}

# The service images' users and passwords (images/*/): rideshare/rideshare.
amqp_url   = "amqp://rideshare:rideshare@rabbitmq:5672/"
data_dir   = "/var/lib/rideshare"
plugin_dir = "/var/lib/rideshare/plugins"
stack      = var.project

zookeeper {
  servers         = ["zookeeper:2181"]
  root            = "/rideshare"
  session_timeout = "2s"
}

runtime "docker" {
  config = {
    image = var.image
    # The compose network (docker-compose.yml names it <project>_net): workers
    # reach rabbitmq, zookeeper and postgres by name. Their pid namespace is
    # still the host's, so the pid a worker reports is its container's
    # State.Pid.
    network = "${var.project}_net"
    # Mounted at data_dir in every worker, as in the orchestrator's container,
    # instead of a directory of the host.
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
  # Every interface of its container; published on the host's 127.0.0.1 only.
  listen      = "0.0.0.0:8083"
  slaves      = var.slaves
  rpc_timeout = "10s"
  admin_token = var.admin_token
  db_token    = var.db_token
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

# users and rides reach the orchestrator at http://orchestrator:8083
# (RIDESHARE_ORCHESTRATOR in docker-compose.yml: a listen address is no URL).
service "users" {
  listen = "0.0.0.0:8081"
}

service "rides" {
  listen = "0.0.0.0:8082"
  # Rides checks that a user exists through the load balancer, as in AWS.
  users_url = var.users_url
  area_min  = 1
  area_max  = 198
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
