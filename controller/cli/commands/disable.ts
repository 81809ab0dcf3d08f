import { unitFileCommand } from './enable-disable.ts';

export default unitFileCommand('disable');
