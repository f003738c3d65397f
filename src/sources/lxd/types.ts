/**
 * The LXD / Incus REST API shapes herald reads, typed only as far as the
 * fields the LXD source uses (documented in the LXD REST API reference,
 * checked against real LXD 5.0 responses in ../shared/lab/lxd-samples/).
 * Everything else a response carries is ignored, so newer servers that add
 * fields keep working.
 *
 *   GET /1.0                                   environment.server_name, server_clustered
 *   GET /1.0/projects?recursion=1              name, config["features.networks"]
 *   GET /1.0/instances?recursion=1&all-projects=true
 *                                              name, project, location, status,
 *                                              expanded_config, expanded_devices
 *   GET /1.0/instances/NAME?project=P          the same fields, one instance (after its event)
 *   GET /1.0/networks?recursion=1&project=P    name, type, managed, config, locations
 *   GET /1.0/networks/N/state?project=P        ovn.chassis
 *   GET /1.0/networks/N/forwards?recursion=1   listen_address, location
 *   GET /1.0/networks/N/load-balancers?recursion=1  listen_address, location
 *   GET /1.0/cluster/members/NAME              status ("Evacuated")
 */
import type { Listing } from './listing.js';

/** The envelope of every synchronous LXD response. */
export interface LxdResponse<T> {
  type: 'sync' | 'async' | 'error';
  status_code: number;
  error_code: number;
  error: string;
  metadata: T;
}

/** GET /1.0 (only what herald reads). */
export interface LxdServer {
  api_version?: string;
  auth?: string;
  environment?: {
    server_name?: string;
    server_clustered?: boolean;
    server?: string;
    server_version?: string;
  };
}

export interface LxdProject {
  name: string;
  config: Record<string, string>;
}

/** One device of an instance; a NIC has type "nic". */
export type LxdDevice = Record<string, string>;

export interface LxdInstance {
  name: string;
  project: string;
  /** Cluster member hosting it; "none" (or "") on a standalone server. */
  location: string;
  status: string;
  status_code?: number;
  type?: string;
  expanded_config: Record<string, string>;
  expanded_devices: Record<string, LxdDevice>;
}

export interface LxdNetwork {
  name: string;
  type: string;
  managed: boolean;
  config: Record<string, string>;
  status?: string;
  locations?: string[] | null;
  /** Set by herald: the project whose network list this came from. */
  project?: string;
}

/** GET /1.0/networks/N/state (only what herald reads). */
export interface LxdNetworkState {
  ovn?: { chassis?: string } | null;
}

export interface LxdNetworkForward {
  listen_address: string;
  description?: string;
  config?: Record<string, string>;
  location?: string;
}

export interface LxdNetworkLoadBalancer {
  listen_address: string;
  description?: string;
  config?: Record<string, string>;
  location?: string;
}

export interface LxdClusterMember {
  server_name: string;
  status: string;
}

/** A lifecycle or operation event from /1.0/events?type=lifecycle,operation. */
export interface LxdEvent {
  type: string;
  timestamp?: string;
  location?: string;
  project?: string;
  /** Lifecycle: action, source, context; operation: description, status (and more, unused). */
  metadata?: { action?: string; source?: string; context?: Record<string, unknown>; description?: string; status?: string };
}

/** Everything one read of the API yields: the input of `deriveLxd`. */
export interface LxdView {
  /** With `readView(rules, { listing: true })`: the instances as bytes (listing.ts), `instances` then empty. */
  listing?: Listing;
  serverName: string;
  clustered: boolean;
  /** This member's cluster status ("Online", "Evacuated", ...); null when standalone. */
  memberStatus: string | null;
  projects: LxdProject[];
  instances: LxdInstance[];
  /** Networks keyed by `${project}/${name}` (project as in `project` of the network). */
  networks: LxdNetwork[];
  /** Keyed by `${project}/${name}`. */
  states: Map<string, LxdNetworkState>;
  forwards: Map<string, LxdNetworkForward[]>;
  loadBalancers: Map<string, LxdNetworkLoadBalancer[]>;
}
