// What the configuration checks ask of the machine (CPU count for an automatic worker_c, network
// interfaces for a port's "interface"); tests substitute their own.
import os from 'node:os';

/** What the loader asks of the machine; tests substitute their own. */
export interface ConfigEnv {
  availableParallelism(): number;
  networkInterfaces(): NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

export const systemEnv: ConfigEnv = {
  availableParallelism: () => os.availableParallelism(),
  networkInterfaces: () => os.networkInterfaces(),
};
