/** The node options on the first line of `script` (packaging/node-flags.mjs). */
export declare function shebangFlags(script: string): string[];
