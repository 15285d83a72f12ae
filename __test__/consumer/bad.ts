// Must NOT type-check: proves tsc reads real types from index.d.ts (not `any`).
import { compressLogs, executeFunction } from '@simple-ide/runtime'

const n: number = compressLogs(['a'])
void executeFunction(42, 'code')
void n
