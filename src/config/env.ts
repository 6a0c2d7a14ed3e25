// What the configuration checks ask of the machine (CPU count for an automatic worker_c, network
// interfaces for a port's "interface"); tests substitute their own.
import os from 'node:os';

/** What the loader asks of the machine; tests substitute their own. */
export interface ConfigEnv {
  availableParallelism(): number;
  networkInterfaces(): NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  /**
   * Certificate files the running daemon has already read (absolute paths; a reload, reload.ts):
   * one this process may no longer read, since it switched to `user`, is accepted as it is.
   */
  keptFiles?: ReadonlySet<string>;
}

export const systemEnv: ConfigEnv = {
  availableParallelism: () => os.availableParallelism(),
  networkInterfaces: () => os.networkInterfaces(),
};
